package idp

import (
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/web"
)

// staticFiles serves the embedded scripts under /static/: files only, never
// a directory listing; anything else is the 404 page.
func (s *Server) staticFiles() http.Handler {
	files := web.Static()
	fileServer := http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(files)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if st, err := fs.Stat(files, name); name == "" || !fs.ValidPath(name) || err != nil || st.IsDir() {
			s.errorPage(w, r, http.StatusNotFound, msgNotFound)
			return
		}
		fileServer.ServeHTTP(w, r)
	})
}
