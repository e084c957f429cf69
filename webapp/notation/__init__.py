"""How the math is written: notation profiles (profiles: the table; profile: what one holds; terms: its
symbol templates and the forms of the products), titles, symbols (LaTeX pieces), rules, equations (each
sub-step's MathML with its numbers, from equation_lines and update_lines) and errata (the slips of the
worked examples' sources)."""
