from cogkit.cli.main import main

main()
