// Package filestore implements ports.FileStore twice: on a local directory
// (the default of the local and test profiles, under the data dir) and on
// an S3-compatible bucket through minio-go (production). Both pass
// porttest.RunFileStore.
package filestore
