from pixseek.cli import main

main()
