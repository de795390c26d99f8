"""``ganxun train --engine spark``: the same pipeline on Apache Spark (imported only then).

Modules: :mod:`session` (a SparkSession, local or on a cluster), :mod:`read` (raw tables from
folders, JDBC or Hive), :mod:`validate` (the data contract as Spark expressions),
:mod:`features` (exposure, answers, interactions in Spark SQL), :mod:`persons` (per-cadre
knowledge given the item parameters), :mod:`lists` (per-cadre default lists), :mod:`fit`
(driver sample + per-cadre work → a :class:`~ganxun.training.fitting.Fitted`) and :mod:`engine`
(the engine the pipeline calls). Nothing here is imported by ``make demo`` or the default engine.
"""
