// placeholder: filled in by the codec / io work
