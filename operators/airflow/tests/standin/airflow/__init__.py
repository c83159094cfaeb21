"""A stand-in for the few Airflow 2 names nes_airflow._compat imports, so the provider's Airflow
classes (operator, link, trigger, sensor, hook) run in tests where Airflow cannot be installed.

It is not Airflow. It keeps only the behaviour those classes rely on, each as Airflow's source
has it (tests/airflow_rules.py lists the files): keyword-only operator construction that rejects
unknown arguments and fills them from ``default_args`` (models/baseoperator.py,
``_apply_defaults``), template fields read with ``getattr`` after ``__init__``
(``set_xcomargs_dependencies``), ``defer`` raising ``TaskDeferred``, a trigger carrying the
``task_instance`` the triggerer gives it, and ``TriggerEvent(payload)``. Scheduling, rendering and
the metadata database are not here: test_airflow.py runs the real ones where Airflow is installed.
"""

__version__ = "2.9.1+standin"
