"""pykka actors, thin: receive a message, call the domain, persist, emit."""
