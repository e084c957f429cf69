"""How the math is written: symbols (titles, LaTeX pieces, the rules both follow), equations (each
sub-step's MathML with its numbers) and errata (the slips of the worked examples' sources)."""
