"""``python -m hmr_ros``: see :mod:`hmr_ros.cli`."""
import sys

from hmr_ros.cli import main

if __name__ == "__main__":
    sys.exit(main())
