// emoji.js: the reaction picker's emoji. Any single emoji (or a short code
// like :ship_it:) is a valid reaction for the server; these are the ones
// offered. web_test.go checks each against the server's own rule
// (domain/message.ValidateEmoji), so the picker never offers one it refuses.

export const reactionEmoji = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "✅", "🔥"];
