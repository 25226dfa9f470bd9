"""The composition root: the `pixseek` command. It builds settings, the library, the index
and the model, and hands them to the core, the workers and the web app; `serve` and
`worker` run the long-lived processes. Nothing else imports it."""
