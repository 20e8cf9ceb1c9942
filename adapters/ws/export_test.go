package ws

// ChatConnections is how many local connections are in chat chatID's
// room: once a connection is there it gets every event of the chat
// published from then on (hello may not have gone out yet). Tests wait on
// it before they send to a client that never reads, which cannot tell
// them it is set up.
func (g *Gateway) ChatConnections(chatID int64) int {
	g.hub.mu.Lock()
	defer g.hub.mu.Unlock()
	if r := g.hub.chats[chatID]; r != nil {
		return len(r.conns)
	}
	return 0
}
