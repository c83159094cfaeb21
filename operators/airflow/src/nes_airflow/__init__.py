"""Apache Airflow provider for NES (Notebook Execution Service).

``nes_airflow.client`` and ``nes_airflow.core`` import without Airflow; the hook, operator,
trigger and sensor modules need Airflow 2.9+ or 3.x.
"""

__version__ = "0.2.0"


def get_provider_info() -> dict:
    """What Airflow's ProvidersManager reads through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "airflow-provider-nes",
        "name": "NES",
        "description": "Run Jupyter notebooks from Git as parameterized jobs on NES.",
        "versions": [__version__],
        "connection-types": [
            {"connection-type": "nes", "hook-class-name": "nes_airflow.hooks.nes.NesHook"},
        ],
        "extra-links": ["nes_airflow.operators.nes.NesRunLink"],
        "integrations": [
            {
                "integration-name": "NES",
                "external-doc-url": "https://github.com/",
                "tags": ["software"],
            }
        ],
        "operators": [{"integration-name": "NES", "python-modules": ["nes_airflow.operators.nes"]}],
        "hooks": [{"integration-name": "NES", "python-modules": ["nes_airflow.hooks.nes"]}],
        "triggers": [{"integration-name": "NES", "python-modules": ["nes_airflow.triggers.nes"]}],
        "sensors": [{"integration-name": "NES", "python-modules": ["nes_airflow.sensors.nes"]}],
    }
