"""Pictures of results: drawn boxes, ranked grids, contact sheets and HTML reports."""

from personsearch.viz.contact_sheet import write_contact_sheet
from personsearch.viz.draw import crop_around, draw_boxes
from personsearch.viz.html_report import write_html_report
from personsearch.viz.ranked_grid import GridEntry, grid_size, render_ranked_grid

__all__ = [
    "GridEntry",
    "crop_around",
    "draw_boxes",
    "grid_size",
    "render_ranked_grid",
    "write_contact_sheet",
    "write_html_report",
]
