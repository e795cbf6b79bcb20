from vision.cli import main

main()
