from auto_router.cli import main

main()
