"""measure/coldstart.sh helper: the Mode: line of `srvr` on each port given, sorted, space-separated ("-" for no answer)."""
import socket, sys
out = []
for p in sys.argv[1:]:
    try:
        s = socket.create_connection(("127.0.0.1", int(p)), timeout=0.5)
        s.sendall(b"srvr"); d = b""
        while True:
            c = s.recv(4096)
            if not c: break
            d += c
        s.close()
        m = [l for l in d.decode().splitlines() if l.startswith("Mode:")]
        out.append(m[0] if m else "-")
    except Exception:
        out.append("-")
print(" ".join(sorted(out)))
