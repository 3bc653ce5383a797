"""Build segmask's compiled kernel (the rest of the package is configured in pyproject.toml)."""

import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

if sys.platform == "win32":
    flags = ["/O2", "/fp:precise"]
else:
    # No fused multiply-add: the kernel must round exactly as pycocotools' and OpenCV's C does.
    flags = ["-O3", "-ffp-contract=off", "-Wno-unreachable-code"]

kernel = Extension(
    "segmask._kernel",
    ["src/segmask/_kernel.pyx"],
    include_dirs=[np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=flags,
)

setup(ext_modules=cythonize([kernel], compiler_directives={"language_level": 3}))
