"""The training page (`/train`) and its JSON endpoints (`/api/v1/train/...`).

routes (the blueprint), build (a run from its setup), form (the page's form), figures and planes (the
decision boundary, the hidden units and the curves).
"""
