print("attnviz")
