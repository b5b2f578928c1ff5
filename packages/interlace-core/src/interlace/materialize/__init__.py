"""Running one model and publishing its result atomically.

The result lands in a staging table beside the target; the strategy's statements then run in
one transaction. Any failure before the commit drops the staging table and leaves the published
table exactly as it was.

- :mod:`.catalog`: where each model's relation lives during a run (:class:`RunCatalog`);
- :mod:`.compile`: SQL models compiled against that catalog;
- :mod:`.runner`: :class:`ModelRunner`, running one model;
- :mod:`.publish`: staging, audit and the atomic publish of a table;
- :mod:`.tracebacks`: a model's exception shown with the user's frames only.
"""
