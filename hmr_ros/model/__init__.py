"""Neural network modules of hmr_ros (pure PyTorch, no rclpy)."""
