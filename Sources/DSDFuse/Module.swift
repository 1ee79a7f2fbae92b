// Module DSDFuse: see Docs/.
