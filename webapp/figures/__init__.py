"""Plotly figure builders of the lab: heatmaps of the matrices, the network diagram, the loss curve.

Pure functions of trace data (no request, no Flask); colours and ranges are shared by the diagram's figures.
"""
