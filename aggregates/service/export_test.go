package service

// SetAfterAnswer makes s call f after each answer it sends and before what
// follows the answer (caching what the command appended): a test widens
// that window with it.
func SetAfterAnswer(s *Service, f func()) { s.afterAnswer = f }
