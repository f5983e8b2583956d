"""Rights of the people whose data it is (PIPA Art. 35–38, Decree Art. 41–46).

Requests and complaints; for requests, identity checks, deadlines, holds, fulfilment
and the access export:

- :mod:`haechi.rights.models`: kinds, states, rules and views of a request;
- :mod:`haechi.rights.requests`: requests as rows and their state changes;
- :mod:`haechi.rights.codes`: one-time codes of the web channel, hashed and capped;
- :mod:`haechi.rights.documents`: the request's own data key and sealed documents;
- :mod:`haechi.rights.exports`: everything held about one person;
- :mod:`haechi.rights.complaints`, :mod:`haechi.rights.complaints_thread`: complaints and
  their sealed threads.

Checking what a request asks and carrying it out on a person's collections need the
subjects and retention domains, so they live with the engine
(:mod:`haechi.engine.rights_inputs`, :mod:`haechi.engine.rights_actions`).
"""
