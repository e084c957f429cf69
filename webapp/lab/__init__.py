"""The lab (`/lab`): one network's forward pass, loss, backward pass and update, sub-step by sub-step.

routes (the blueprint), render (a state as a page, shared with the embed page), run (the lab's own bounds
and its trace), state (the URL token), draft and form (the editor's typed text), edits (structure edits
and checking them), view (sub-step sections, cards, figures), check (the gradient-check panel), context
(what the templates get).
"""
