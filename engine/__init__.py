"""The NumPy engine: exact forward pass, loss, backward pass and SGD update, traced step by step.

No web framework and no plotting here: the web app turns the traces into pages.
"""
