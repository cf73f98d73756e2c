"""minicv.proposals: where might the objects be? Candidate boxes for a detector to classify.

- sliding.py           sliding_windows: every box of a few sizes and shapes on a grid (the
                       ~100,000-window baseline), count_windows: their number, by formula
- felzenszwalb.py      felzenszwalb: graph-based segmentation (Felzenszwalb & Huttenlocher 2004),
                       the initial regions of selective search
- selective_search.py  selective_search: hierarchical grouping of those regions by colour,
                       texture, size and fill in several colour spaces (Uijlings et al. 2013),
                       ranked boxes
- evaluate.py          proposal_recall: recall against the number of proposals at IoU
                       thresholds; evaluate_proposals: a method over a dataset, timed
- cli.py               ``minicv proposals``

NumPy and SciPy only, on the CPU (CuPy arrays are copied to the host).
"""
from minicv.proposals import evaluate as _evaluate
from minicv.proposals import selective_search as _selective_search, sliding as _sliding
from minicv.proposals.evaluate import *          # noqa: F401,F403
from minicv.proposals.felzenszwalb import felzenszwalb
from minicv.proposals.selective_search import *  # noqa: F401,F403
from minicv.proposals.sliding import *           # noqa: F401,F403

__all__ = ["felzenszwalb", *_sliding.__all__, *_selective_search.__all__, *_evaluate.__all__]
