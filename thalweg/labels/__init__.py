"""Labels from several raters (layer 2): aggregation and agreement.

The smile bot's lesson: one rater per image gave 14 % wrong labels. Ask more than one,
and measure how much they agree.

* :func:`ratings_from_table`: one row per rating (item, rater, label), checked;
* :func:`majority_vote`, :func:`two_rater_policy` (keep agreements, list disagreements,
  with the cost arithmetic), :func:`dawid_skene` (EM over per-rater confusion matrices);
* :func:`cohen_kappa`, :func:`fleiss_kappa`, :func:`krippendorff_alpha`,
  :func:`agreement_summary`, :func:`leave_one_out_agreement`.

``thalweg labels RATINGS.csv --method ...`` runs them from the command line.
"""

from thalweg.labels.aggregate import (
    LabelSet,
    dawid_skene,
    majority_vote,
    single_rater_error_from_disagreement,
    two_rater_policy,
)
from thalweg.labels.agreement import (
    agreement_summary,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    leave_one_out_agreement,
)
from thalweg.labels.ratings import Ratings, ratings_from_table

__all__ = [
    "LabelSet",
    "Ratings",
    "agreement_summary",
    "cohen_kappa",
    "dawid_skene",
    "fleiss_kappa",
    "krippendorff_alpha",
    "leave_one_out_agreement",
    "majority_vote",
    "ratings_from_table",
    "single_rater_error_from_disagreement",
    "two_rater_policy",
]
