from hub.entry import main

main()
