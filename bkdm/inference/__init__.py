"""Inference on real data: fit declarations, the joint likelihood, best fits, NUTS and scans."""
