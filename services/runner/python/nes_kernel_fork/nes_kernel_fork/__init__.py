"""Fresh ipykernel kernels forked from a template process that has already imported ipykernel,
IPython and a configured list of modules (template.py), started through a jupyter_client kernel
provisioner (provisioner.py) selected by a kernelspec's `metadata.kernel_provisioner`."""
