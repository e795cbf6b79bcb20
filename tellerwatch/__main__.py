from tellerwatch.cli import main

main()
