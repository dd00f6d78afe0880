"""Figures as plain functions: data in, ``plotly.graph_objects.Figure`` out, one module per lesson.

Pages only draw what these return, so unit tests can inspect every figure without a browser.
"""
