"""NetBuilder's Qt editor: the only package that imports Qt."""
