"""NetBuilder's bundled files; installed, this folder is the package `netbuilder._resources`
(a regular package, so importlib.resources finds exactly one folder)."""
