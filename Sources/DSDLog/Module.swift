// Module DSDLog: see Docs/.
