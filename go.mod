module github.com/loligo/loligo

go 1.26
