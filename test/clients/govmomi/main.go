// Command govmomi-session drives Portcullis's vCenter dialect with VMware's own Go SDK,
// govmomi's vapi/rest client, unmodified: Login, Session and Logout on
// /rest/com/vmware/cis/session, exactly as govc and terraform-provider-vsphere call them.
//
// Built by test/integration/govmomi.test.ts in GOPATH mode against Debian's
// golang-github-vmware-govmomi-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o OUT ./test/clients/govmomi
//
// Usage: govmomi-session -url https://127.0.0.1:PORT -ca CA.pem -user U -password P MODE
//
// MODE is one of
//
//	full     login, session, logout, session after logout, login with a wrong password
//	login    log in and print the session id (the session stays open)
//	check    -session ID: print the session's info, or that it is not logged in
//	logout   -session ID: log the session out
//
// It prints one JSON object per step on stdout; the test asserts on them. It exits
// non-zero only when the SDK itself reports something other than what the step expects.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
)

type step struct {
	Step         string `json:"step"`
	OK           bool   `json:"ok"`
	SessionID    string `json:"sessionId,omitempty"`
	User         string `json:"user,omitempty"`
	Created      string `json:"created,omitempty"`
	LastAccessed string `json:"lastAccessed,omitempty"`
	LoggedIn     *bool  `json:"loggedIn,omitempty"`
	Error        string `json:"error,omitempty"`
	// Transport is true when the error came from the network or TLS rather than from an HTTP answer.
	Transport bool `json:"transport,omitempty"`
}

func emit(s step) {
	b, _ := json.Marshal(s)
	fmt.Println(string(b))
}

func boolp(b bool) *bool { return &b }

// newClient makes a vapi/rest client without the SOAP round trip vim25.NewClient would
// make (Portcullis serves the session API, not the vSphere Web Services API).
func newClient(u *url.URL, caFile string) (*rest.Client, error) {
	sc := soap.NewClient(u, false)
	if err := sc.SetRootCAs(caFile); err != nil {
		return nil, err
	}
	return rest.NewClient(&vim25.Client{Client: sc}), nil
}

func isTransport(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue)
}

func fail(s step, err error) {
	s.OK = false
	s.Error = err.Error()
	s.Transport = isTransport(err)
	emit(s)
}

func session(ctx context.Context, c *rest.Client, name string) bool {
	info, err := c.Session(ctx)
	if err != nil {
		fail(step{Step: name}, err)
		return false
	}
	if info == nil {
		emit(step{Step: name, OK: true, LoggedIn: boolp(false)})
		return true
	}
	emit(step{
		Step: name, OK: true, LoggedIn: boolp(true), User: info.User,
		Created: info.Created.UTC().Format(time.RFC3339Nano), LastAccessed: info.LastAccessed.UTC().Format(time.RFC3339Nano),
	})
	return true
}

func main() {
	rawURL := flag.String("url", "", "https://host:port of Portcullis")
	caFile := flag.String("ca", "", "PEM file of the CA that signed the server's certificate")
	user := flag.String("user", "", "user name, as vCenter users type it")
	password := flag.String("password", "", "password")
	sessionID := flag.String("session", "", "session id for check and logout")
	flag.Parse()
	mode := flag.Arg(0)

	u, err := url.Parse(*rawURL)
	if err != nil || u.Host == "" {
		fmt.Fprintln(os.Stderr, "-url must be https://host:port")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := newClient(u, *caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(2)
	}

	ok := true
	switch mode {
	case "full":
		if err := c.Login(ctx, url.UserPassword(*user, *password)); err != nil {
			fail(step{Step: "login"}, err)
			os.Exit(1)
		}
		emit(step{Step: "login", OK: true, SessionID: c.SessionID()})
		ok = session(ctx, c, "session") && ok
		if err := c.Logout(ctx); err != nil {
			fail(step{Step: "logout"}, err)
			ok = false
		} else {
			emit(step{Step: "logout", OK: true})
		}
		ok = session(ctx, c, "session-after-logout") && ok
		// A wrong password: govmomi must see an HTTP 401, not a transport failure.
		bad, _ := newClient(u, *caFile)
		err := bad.Login(ctx, url.UserPassword(*user, *password+"-wrong"))
		if err == nil {
			emit(step{Step: "wrong-password", OK: false, SessionID: bad.SessionID(), Error: "login succeeded"})
			ok = false
		} else {
			emit(step{Step: "wrong-password", OK: strings.Contains(err.Error(), "401 Unauthorized") && !isTransport(err), Error: err.Error(), Transport: isTransport(err), LoggedIn: boolp(bad.SessionID() != "")})
		}
	case "login":
		if err := c.Login(ctx, url.UserPassword(*user, *password)); err != nil {
			fail(step{Step: "login"}, err)
			os.Exit(1)
		}
		emit(step{Step: "login", OK: true, SessionID: c.SessionID()})
	case "check":
		c.SessionID(*sessionID)
		ok = session(ctx, c, "session")
	case "logout":
		c.SessionID(*sessionID)
		if err := c.Logout(ctx); err != nil {
			fail(step{Step: "logout"}, err)
			ok = false
		} else {
			emit(step{Step: "logout", OK: true})
		}
	default:
		fmt.Fprintln(os.Stderr, "mode must be full, login, check or logout")
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}
