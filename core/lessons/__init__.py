"""The maths behind each page, with no widgets: what a page computes from the models to teach."""
