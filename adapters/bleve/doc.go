// Package bleve is the embedded search index: ports.SearchIndex on Bleve in
// a local directory, so the local profile searches with no search server.
// Content is analyzed by Bleve's standard analyzer (Unicode words, lower
// case, English stop words); a query word matches by prefix or at edit
// distance 1, and every word must match. Postgres stays the source of
// truth: the directory can be deleted and rebuilt by a reindex.
package bleve
