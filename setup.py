"""Packaging beyond what pyproject.toml can say: the repository keeps its bundled files in the
top-level resources/ folder, and the wheel and the sdist install them inside the package as
netbuilder._resources (found at run time through importlib.resources)."""

from setuptools import find_namespace_packages, find_packages, setup

RESOURCES = "netbuilder._resources"
# every folder under resources/ is listed, so new ones (and their files) ship without a change here
resource_packages = [RESOURCES] + [
    f"{RESOURCES}.{name}" for name in find_namespace_packages(where="resources")
]

setup(
    packages=[*find_packages(include=["engine*", "netbuilder*"]), *resource_packages],
    package_dir={RESOURCES: "resources"},
    package_data={name: ["*"] for name in resource_packages},
)
