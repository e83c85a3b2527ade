"""pip install of the ROS-free core (``import hmr_ros``): the Estimator, models, body model, rendering.

The ROS 2 package (messages, hmr_node, launch, config) is built with colcon from CMakeLists.txt instead;
see README.md. torch is not listed: install the build for your platform first (``make setup`` uses
torch==2.13.0).
"""
from setuptools import find_packages, setup

setup(
    name="hmr_ros",
    version="0.1.0",
    description="Multi-person video 3D human mesh recovery (SIAM reconstruction) for ROS 2",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["hmr_ros", "hmr_ros.*"]),
    # the weights this project trained on its synthetic people (checkpoint "synthetic", docs/training.md)
    package_data={"hmr_ros": ["weights/*.safetensors", "weights/*.md"]},
    install_requires=[
        "numpy>=1.24",
        "scipy>=1.10",
        "safetensors>=0.4",
        "opencv-python-headless>=4.8",
        "pyyaml>=6",       # camera_calibration and parameter files
        "rosbags>=0.10",   # rosbag2 (sqlite3, MCAP) in and out without ROS: python -m hmr_ros run
    ],
    extras_require={
        "onnx": ["onnx>=1.16", "onnxscript>=0.1", "onnxruntime>=1.18"],
        # TensorRT for RTX GPUs: real wheels on PyPI; builds engines ahead of time on any machine (docs/backends.md)
        "tensorrt-rtx": ["onnx>=1.16", "onnxscript>=0.1", "onnxruntime>=1.18", "tensorrt-rtx>=1.7"],
        # the keypoint teacher (python -m hmr_ros label / adapt): LiteRT runs the BlazePose .tflite files that
        # scripts/fetch_teacher.sh puts in the cache (mediapipe itself is not needed)
        "teacher": ["ai-edge-litert>=1.2"],
        # convert-agora reads AGORA's ground truth, pandas DataFrames in pickles (only files the user trusts)
        "agora": ["pandas>=2"],
        # smplx: the reference the body-model tests compare against (needs the torch installed first);
        # pandas: the AGORA converter's tests write real DataFrame pickles
        "test": ["pytest>=7", "pyyaml>=6", "smplx>=0.1.28", "pandas>=2"],
    },
)
