"""The org tree and who is in it: units on materialized paths, people, contacts, the sheets they are imported from."""
