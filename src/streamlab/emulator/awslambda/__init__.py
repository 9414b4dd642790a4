"""streamlab's Lambda service: control plane, execution environments, logs."""
