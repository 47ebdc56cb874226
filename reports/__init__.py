"""The reporter: the paper's published numbers as data, table specs, renderers (LaTeX,
HTML, Markdown through Jinja templates), matplotlib figures, the HTML index page and the
metric regression check.

Modules, one job each:

* :mod:`reports.paper`      -- load ``paper_numbers.csv`` (Tables 2-12 of the paper);
* :mod:`reports.tables`     -- one declarative :class:`~reports.tables.TableSpec` per table;
* :mod:`reports.measured`   -- select and aggregate measured runs for a table;
* :mod:`reports.grid`       -- assemble a table (published + measured) into a format-free grid,
  compute bold cells and the notes on the paper's own bold/average slips;
* :mod:`reports.render`     -- render a grid through the Jinja templates;
* :mod:`reports.figures`    -- bar charts, scatter plots, Figure-3-style curves;
* :mod:`reports.html`       -- the ``index.html`` page;
* :mod:`reports.regression` -- compare measured metrics with a committed baseline;
* :mod:`reports.bootstrap`  -- bootstrap intervals of SROCC/PLCC over test images (HTML);
* :mod:`reports.compare`    -- paired tests between two methods' runs;
* :mod:`reports.leaderboard` -- the leaderboard (text, sortable HTML);
* :mod:`reports.table1`     -- Table 1, the datasets found beside the paper's;
* :mod:`reports.saliency`   -- gradient saliency maps of a saved model (Figure 9);
* :mod:`reports.io`         -- atomic file writes.
"""
