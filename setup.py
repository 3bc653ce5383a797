"""Build segmask's compiled kernel (the rest of the package is configured in pyproject.toml).

One extension per concept in ``src/segmask/_kernel/`` (see its ``__init__.py``),
with the same flags; set ``SEGMASK_KEEP_SYMBOLS=1`` to keep the symbols and
debug information that a release build strips (2.9 MB against 0.5 MB).
"""

import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

MODULES = ["buffers", "strings", "runs", "overlap", "fill", "wire"]
HERE = "src/segmask/_kernel"

if sys.platform == "win32":
    flags = ["/O2", "/fp:precise"]
    strip = []  # MSVC keeps debug information out of the .pyd
else:
    # No fused multiply-add: the kernel must round exactly as pycocotools' and OpenCV's C does.
    flags = ["-O3", "-ffp-contract=off", "-Wno-unreachable-code"]
    strip = ["-Wl,-x", "-Wl,-S"] if sys.platform == "darwin" else ["-s"]
if os.environ.get("SEGMASK_KEEP_SYMBOLS") == "1":
    strip = []

extensions = [
    Extension(
        f"segmask._kernel.{name}",
        [f"{HERE}/{name}.pyx"],
        include_dirs=[np.get_include(), HERE],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=flags,
        extra_link_args=strip,
    )
    for name in MODULES
]

setup(ext_modules=cythonize(extensions, include_path=["src"], compiler_directives={"language_level": 3}))
