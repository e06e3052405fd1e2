"""`certctl-mcp`: the Model Context Protocol server that lets an assistant read and act on certctl through its REST
API (official `mcp` SDK). `server` builds the server and holds `main()`; `tools` holds the tools."""
