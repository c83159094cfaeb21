from airflow.models.baseoperator import BaseOperator

__all__ = ["BaseOperator"]
