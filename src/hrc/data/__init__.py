"""GTEx readers, the synthetic cohort and the prepared sample/expression pair."""
