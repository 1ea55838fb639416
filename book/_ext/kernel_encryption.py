"""Encrypt the traffic between the build and the kernels that run the chapters.

ipykernel 7.4 warns, once per kernel, "Kernel is running over TCP without encryption" unless
the kernel manager that starts it provisions CurveZMQ keys (or uses the IPC transport). The
python3 kernelspec declares ``"supported_encryption": ["curve"]``, and jupyter_client's kernel
managers provision keys for such kernels when their ``transport_encryption`` trait is
``"auto"``; its default is ``"disabled"``. The kernels of the book's build are started by
myst-nb through jupyter-cache and nbclient, which create ``AsyncKernelManager`` objects without
any traitlets configuration, so a Jupyter config file cannot reach them. This extension changes
the trait's class default, in the build's process only, before any kernel starts.

The IPC transport would silence the warning too, but it puts socket files in the chapter's
folder while a chapter runs.
"""

from __future__ import annotations

POLICY = "auto"  # provision CurveZMQ keys whenever the kernelspec says it supports them


def encrypt_kernel_transport() -> bool:
    """Make new kernel managers provision CurveZMQ keys; False if this pyzmq has no Curve."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager, KernelManager

    if not zmq.has("curve"):  # a libzmq built without libsodium: leave the default
        return False
    for cls in (KernelManager, AsyncKernelManager):
        if "transport_encryption" not in cls.class_trait_names():
            return False  # a jupyter_client older than 8.10: nothing to provision
        # traitlets copies a trait's static default into this per-class table when the class
        # is created; instances made from now on start with the value set here
        cls._static_immutable_initial_values["transport_encryption"] = POLICY
    return True


def setup(app) -> dict:
    encrypt_kernel_transport()
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
